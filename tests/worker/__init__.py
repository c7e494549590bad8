"""Tests of kaptain.worker."""
