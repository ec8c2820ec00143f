"""Twilio's human-queue side: wait music/announcements, queue result, agent phone, whisper."""

from fastapi import APIRouter

router = APIRouter()
