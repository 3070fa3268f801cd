from constitutional.models.base import ChatModel, Completion, Message, ModelError, Usage
from constitutional.models.registry import PROVIDERS, create_model, parse_spec

__all__ = ["PROVIDERS", "ChatModel", "Completion", "Message", "ModelError", "Usage", "create_model", "parse_spec"]
