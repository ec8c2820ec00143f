"""Managers' dashboard: statistics pages and CSV exports (issue 5)."""

from fastapi import APIRouter

router = APIRouter()
