"""Agents' console: waiting calls (live), transcripts, pickup, history, callbacks (issue 4)."""

from fastapi import APIRouter

router = APIRouter()
