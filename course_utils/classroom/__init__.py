"""Classroom tooling for instructors: offline slide decks and safe batch grading of submissions."""
