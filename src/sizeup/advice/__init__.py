"""Advice that turns an estimate into something to run."""
