"""Citizens' conversations: create one, send it messages, read its messages."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Query, WebSocket, status
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api import crud, feedback, handoffs
from api.deps import (
    ConversationDep,
    DatabaseDep,
    DeskDep,
    LocksDep,
    MessageLimit,
    NewConversationLimit,
    RasaDep,
    Services,
    SessionDep,
    SettingsDep,
)
from api.events import conversation_channel
from api.models import Message
from api.rasa_client import RasaUnavailable
from api.schemas import (
    MAX_SEQ,
    ConversationCreate,
    ConversationCreated,
    ConversationOut,
    ConversationUpdate,
    ErrorOut,
    FeedbackCreate,
    MessageCreate,
    MessageOut,
    TurnOut,
)
from api.sockets import WS_UNAUTHORIZED, answer_pings, forward, run_until_first_ends
from api.turns import take_turn

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/conversations", tags=["conversations"])

RASA_UNAVAILABLE_DETAIL = "The assistant is temporarily unavailable; your message was saved."
DEFAULT_PAGE_SIZE = 500
MAX_PAGE_SIZE = 1000

_AUTH_RESPONSES: dict[int | str, dict[str, object]] = {
    status.HTTP_401_UNAUTHORIZED: {
        "model": ErrorOut,
        "description": "No bearer token, or not this conversation's",
    },
    status.HTTP_404_NOT_FOUND: {"model": ErrorOut, "description": "No such conversation"},
    422: {"model": ErrorOut, "description": "Invalid request; `detail` says what is wrong"},
}

_TOO_MANY_MESSAGES: dict[int | str, dict[str, object]] = {
    status.HTTP_429_TOO_MANY_REQUESTS: {
        "model": ErrorOut,
        "description": "Too many messages (feedback included) in this conversation",
    },
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ConversationCreated,
    dependencies=[NewConversationLimit],
    responses={
        422: {"model": ErrorOut, "description": "Invalid body"},
        429: {"model": ErrorOut, "description": "Too many new conversations from this address"},
    },
    summary="Start a conversation",
)
def create_conversation(
    session: SessionDep,
    settings: SettingsDep,
    body: Annotated[ConversationCreate | None, Body()] = None,
) -> ConversationCreated:
    """Start a conversation with the bot, in the given language or the commune's default one.

    The answer's token authorises every later call on the conversation (``Authorization: Bearer TOKEN``); it
    is not stored and cannot be shown again.
    """
    chosen = body.language if body is not None else None
    language = chosen or settings.default_language
    conversation, token = crud.create_conversation(
        session, language=language, language_known=chosen is not None
    )
    logger.info("Conversation %s created (%s)", conversation.id, language)
    return ConversationCreated(id=conversation.id, token=token)


@router.patch(
    "/{conversation_id}",
    response_model=ConversationOut,
    responses=_AUTH_RESPONSES,
    summary="Change the conversation's language",
)
def update_conversation(
    body: ConversationUpdate, conversation: ConversationDep, session: SessionDep
) -> ConversationOut:
    """Set the language the citizen chose (the widget's language switch): the bot answers in it from now on,
    unless a later message is clearly in the other language."""
    updated = crud.set_language(session, conversation.id, body.language)
    logger.info("Conversation %s switched to %s", updated.id, updated.language)
    return ConversationOut.model_validate(
        {"id": updated.id, "language": updated.language, "mode": updated.mode}
    )


@router.post(
    "/{conversation_id}/messages",
    response_model=TurnOut,
    dependencies=[MessageLimit],
    responses={
        **_AUTH_RESPONSES,
        **_TOO_MANY_MESSAGES,
        status.HTTP_409_CONFLICT: {
            "model": ErrorOut,
            "description": "Another message was stored at the same time",
        },
        status.HTTP_503_SERVICE_UNAVAILABLE: {
            "model": ErrorOut,
            "description": "The bot could not answer; the message is stored all the same",
        },
    },
    summary="Send a message (or a button's payload) and get the bot's replies",
)
async def post_message(
    body: MessageCreate,
    conversation: ConversationDep,
    db: DatabaseDep,
    rasa: RasaDep,
    locks: LocksDep,
    desk: DeskDep,
) -> TurnOut:
    """Store the citizen's message first, then, while the bot has the conversation, return the bot's replies.

    While the conversation waits for or is with a human agent, the message goes to the agents and
    ``messages`` is empty.
    """
    try:
        turn = await take_turn(db, conversation, body.text, rasa=rasa, locks=locks, desk=desk)
    except RasaUnavailable as exc:
        logger.warning("Conversation %s: %s", conversation.id, exc)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=RASA_UNAVAILABLE_DETAIL) from exc
    except IntegrityError as exc:
        logger.warning("Conversation %s: concurrent write refused by the database", conversation.id)
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail="Another message of this conversation was being stored; send it again.",
        ) from exc
    return TurnOut.model_validate(
        {
            "mode": turn.mode,
            "language": turn.language,
            "messages": [MessageOut.of(message) for message in turn.messages],
        }
    )


@router.get(
    "/{conversation_id}/messages",
    response_model=list[MessageOut],
    responses=_AUTH_RESPONSES,
    summary="Read the conversation's messages",
)
def list_messages(
    conversation: ConversationDep,
    session: SessionDep,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ, description="Only messages with a greater `seq`.")] = 0,
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="At most this many messages; page on with `after`.")
    ] = DEFAULT_PAGE_SIZE,
) -> list[MessageOut]:
    """Return the conversation's messages numbered after ``after``, oldest first, at most ``limit``."""
    messages = crud.list_messages(session, conversation.id, after=after, limit=limit)
    return [MessageOut.of(message) for message in messages]


@router.post(
    "/{conversation_id}/feedback",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[MessageLimit],
    responses={
        **_AUTH_RESPONSES,
        **_TOO_MANY_MESSAGES,
        422: {
            "model": ErrorOut,
            "description": "Invalid body, or `seq` is not one of the bot's messages in this conversation",
        },
    },
    summary="Say whether one of the bot's messages helped",
)
def post_feedback(body: FeedbackCreate, conversation: ConversationDep, session: SessionDep) -> None:
    """Store the citizen's verdict on the bot's message ``seq``, for the editors of the knowledge base.

    The verdict is linked to the entry the message answered from and to the citizen's question before it. A
    new verdict on the same message replaces the earlier one. Counted against the conversation's message
    limit.
    """
    try:
        feedback.record_widget_feedback(
            session, conversation.id, seq=body.seq, helpful=body.helpful, comment=body.comment
        )
    except feedback.NotABotMessage as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"seq: message {body.seq} is not one of the bot's messages in this conversation",
        ) from exc


@router.websocket("/{conversation_id}/ws")
async def conversation_socket(
    websocket: WebSocket,
    conversation_id: str,
    token: Annotated[str, Query(max_length=256)] = "",
    after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
) -> None:
    """The widget's live feed: first the status, then the messages after ``after``, then every new message
    (the bot's, an agent's, notices) and status change. Authenticated by ``?token=`` (the conversation's).

    Events: ``{"type": "status", "mode", "queue_position"}`` and ``{"type": "message", "message": {...}}``.
    A message may come twice (e.g. once live, once from catching up): keep the one of each ``seq``.
    """
    services: Services = websocket.app.state.services
    conversation = await services.db.run(crud.get_conversation, conversation_id)
    await websocket.accept()
    if conversation is None or not token or not crud.token_matches(conversation, token):
        await websocket.close(WS_UNAUTHORIZED, "This token does not authorise this conversation.")
        return
    async with services.broker.subscribe(conversation_channel(conversation.id)) as events:
        # Subscribed first, then caught up: nothing committed in between is missed.
        mode, position, missed = await services.db.run(_state_after, conversation.id, after)
        await websocket.send_json({"type": "status", "mode": mode, "queue_position": position})
        for message in missed:
            await websocket.send_json(
                {"type": "message", "message": MessageOut.of(message).model_dump(mode="json")}
            )
        await run_until_first_ends(
            websocket,
            f"Conversation socket of {conversation.id}",
            forward(websocket, events),
            answer_pings(websocket),
        )


def _state_after(session: Session, conversation_id: str, after: int) -> tuple[str, int | None, list[Message]]:
    """Return a conversation's mode, its place in the queue (while waiting), its messages after ``after``."""
    conversation = crud.require_conversation(session, conversation_id)
    handoff = handoffs.open_handoff(session, conversation_id)
    position = handoffs.queue_position(session, handoff) if handoff is not None else 0
    return conversation.mode, position or None, crud.list_messages(session, conversation_id, after=after)
