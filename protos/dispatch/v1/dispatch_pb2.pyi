import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Channel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANNEL_UNSPECIFIED: _ClassVar[Channel]
    CHANNEL_WHATSAPP: _ClassVar[Channel]
    CHANNEL_SMS: _ClassVar[Channel]
    CHANNEL_VOICE: _ClassVar[Channel]

class TrafficClass(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRAFFIC_CLASS_UNSPECIFIED: _ClassVar[TrafficClass]
    TRAFFIC_CLASS_OTP: _ClassVar[TrafficClass]
    TRAFFIC_CLASS_TRANSACTIONAL: _ClassVar[TrafficClass]
    TRAFFIC_CLASS_MARKETING: _ClassVar[TrafficClass]

class MessageStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MESSAGE_STATUS_UNSPECIFIED: _ClassVar[MessageStatus]
    MESSAGE_STATUS_ACCEPTED: _ClassVar[MessageStatus]
    MESSAGE_STATUS_DELIVERED: _ClassVar[MessageStatus]
    MESSAGE_STATUS_FAILED: _ClassVar[MessageStatus]
CHANNEL_UNSPECIFIED: Channel
CHANNEL_WHATSAPP: Channel
CHANNEL_SMS: Channel
CHANNEL_VOICE: Channel
TRAFFIC_CLASS_UNSPECIFIED: TrafficClass
TRAFFIC_CLASS_OTP: TrafficClass
TRAFFIC_CLASS_TRANSACTIONAL: TrafficClass
TRAFFIC_CLASS_MARKETING: TrafficClass
MESSAGE_STATUS_UNSPECIFIED: MessageStatus
MESSAGE_STATUS_ACCEPTED: MessageStatus
MESSAGE_STATUS_DELIVERED: MessageStatus
MESSAGE_STATUS_FAILED: MessageStatus

class SendMessageRequest(_message.Message):
    __slots__ = ("channel", "to", "body", "idempotency_key", "traffic_class", "client_reference")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    TRAFFIC_CLASS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    channel: Channel
    to: str
    body: str
    idempotency_key: str
    traffic_class: TrafficClass
    client_reference: str
    def __init__(self, channel: _Optional[_Union[Channel, str]] = ..., to: _Optional[str] = ..., body: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., traffic_class: _Optional[_Union[TrafficClass, str]] = ..., client_reference: _Optional[str] = ...) -> None: ...

class SendMessageResponse(_message.Message):
    __slots__ = ("message_id", "status", "duplicate")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    status: MessageStatus
    duplicate: bool
    def __init__(self, message_id: _Optional[str] = ..., status: _Optional[_Union[MessageStatus, str]] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class GetMessageStatusRequest(_message.Message):
    __slots__ = ("message_id",)
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    def __init__(self, message_id: _Optional[str] = ...) -> None: ...

class MessageStatusReport(_message.Message):
    __slots__ = ("message_id", "channel", "status", "error_code", "accepted_at", "updated_at", "client_reference")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    channel: Channel
    status: MessageStatus
    error_code: str
    accepted_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    client_reference: str
    def __init__(self, message_id: _Optional[str] = ..., channel: _Optional[_Union[Channel, str]] = ..., status: _Optional[_Union[MessageStatus, str]] = ..., error_code: _Optional[str] = ..., accepted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., client_reference: _Optional[str] = ...) -> None: ...
