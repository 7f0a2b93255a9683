"""Instruction data for shoptasks: a shop's own instructions and the answers it wants, without writing a plugin.

Reads Alpaca JSONL (`instruction`, optional `input`, `output`) and chat JSONL (`messages`, each `{"role",
"content"}`: the last message is the assistant's answer, the user message before it the instruction, and the
system message and earlier turns the input), in one file or mixed. It trains, evaluates (ROUGE, the invented rate
against the input, the retrieval baseline) and serves as any generation task."""
from shoptasks.errors import ShoptasksError
from shoptasks.hookspecs import hookimpl
from shoptasks.generation import GenerationTask

def chat_fields(path, line: int, messages) -> dict:
    """The instruction, input and output of a chat row's `messages`; a one-line error naming the file and line for
    messages that are not a conversation ending in the assistant's answer to a user."""
    def bad(why): return ShoptasksError(f"{path}: line {line}: messages {why}")
    if not isinstance(messages, list) or not messages: raise bad("must be a non-empty list")
    for i, m in enumerate(messages):
        if not (isinstance(m, dict) and m.get("role") in ("system", "user", "assistant")
                and isinstance(m.get("content"), str)):
            raise bad(f"[{i}] must be {{\"role\": system, user or assistant, \"content\": a text}}")
    if len(messages) < 2 or messages[-1]["role"] != "assistant" or messages[-2]["role"] != "user":
        raise bad("must end with a user message and the assistant's answer to it")
    context = [f"{m['role']}: {m['content']}" if m["role"] != "system" else m["content"] for m in messages[:-2]]
    return dict(instruction=messages[-2]["content"], input="\n".join(context), output=messages[-1]["content"])

class Instruct(GenerationTask):
    name = "instruct"
    description = "A shop's own instructions and answers (Alpaca or chat JSONL): follow a new instruction."
    demo = False                       # the sample shop has no instruction file
    columns = dict(instruction=("instruction", "prompt"), input=("input", "context"), label=("output", "response"))
    text_roles, optional = ("instruction", "input"), ("input",)
    fields = dict(instruction="<|question|>", input="<|attributes|>")
    target_field = "<|answer|>"
    max_target = 96

    def read(self, path):
        "Each row of the file, a chat row (`messages`) as its instruction, input and output."
        for line, raw in super().read(path):
            yield line, {**raw, **chat_fields(path, line, raw["messages"])} if "messages" in raw else raw

@hookimpl
def register_tasks(register):
    register(Instruct)
