"""Published results kept as data: reported-result cards, their validation, and how they sit beside measured rows."""
