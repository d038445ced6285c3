"""Experiments run from one command: step sweeps, temporal profiles, statistics over clips and the GSB user study."""
