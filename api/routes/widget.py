"""What the citizens' chat widget reads before a conversation starts."""

from __future__ import annotations

from typing import get_args

from fastapi import APIRouter

from api.config import Language
from api.deps import SettingsDep
from api.schemas import WidgetConfig

router = APIRouter(prefix="/widget", tags=["widget"])


@router.get("/config", response_model=WidgetConfig, summary="The widget's settings")
def widget_config(settings: SettingsDep) -> WidgetConfig:
    """The commune's default language, the languages spoken, and how long conversations are kept (shown in
    the privacy notice before the first message)."""
    return WidgetConfig(
        default_language=settings.default_language,
        languages=list(get_args(Language)),
        retention_days=settings.retention_days,
    )
