"""Tests of kaptain.workflows."""
