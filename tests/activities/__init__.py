"""Tests of kaptain.activities."""
