"""Remote inference: the grader's network on an inference server speaking the KServe v2 /
Open Inference Protocol (Triton, KServe...). The language model's remote endpoint (an
OpenAI-compatible server such as vLLM) is models.advice.llm's `openai` backend."""

from plugin.inference.errors import InferenceProtocolError, InferenceServerError, ModelMismatch

__all__ = ["InferenceProtocolError", "InferenceServerError", "ModelMismatch"]
