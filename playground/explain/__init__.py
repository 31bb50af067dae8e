"""Explaining a verdict: the exact account, word importance, sentences from the numbers, one unit's
equations with its numbers and where models disagree."""
