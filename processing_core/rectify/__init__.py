"""Ortho-rectification of a stack into the final master's geometry (the paper's steps i-iii)."""

from processing_core.rectify.chain import METHODS, RectifyParameters, rectify_stack

__all__ = ["METHODS", "RectifyParameters", "rectify_stack"]
