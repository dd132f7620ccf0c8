"""Model cards: Hugging Face Hub README.md with YAML metadata, rendered from an artifact's config."""

from __future__ import annotations

from typing import Any

import yaml

from seqzoo.hub import is_repo_id

HUB_TASK = {
    "forecasting": "time-series-forecasting",
    "classification": "text-classification",
    "seq2seq": "text2text-generation",
}
METRIC_LABELS = {
    "test_mae": ("mae", "Test MAE"),
    "test_mse": ("mse", "Test MSE"),
    "test_naive_mae": ("mae", "Naive baseline test MAE"),
    "test_naive_mse": ("mse", "Naive baseline test MSE"),
    "test_accuracy": ("accuracy", "Test accuracy"),
    "test_f1": ("f1", "Test F1"),
    "test_auroc": ("roc_auc", "Test AUROC"),
    "test_exact_match": ("exact_match", "Test exact match"),
}


def metric_label(key: str) -> tuple[str, str]:
    """The Hub's metric type and the card's display name of a metric key (the key itself for both when
    it has no label)."""
    return METRIC_LABELS.get(key, (key, key))


def model_index(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The card's `model-index`: task, dataset, split and every test metric."""
    data = config["provenance"].get("data", {})
    metrics = []
    for key, value in config["metrics"].items():
        kind, name = metric_label(key)
        metrics.append({"type": kind, "name": name, "value": value})
    task = config["task"]["name"]
    return [
        {
            "name": config["name"] or config["architecture"]["name"],
            "results": [
                {
                    "task": {"type": HUB_TASK.get(task, task), "name": task},
                    "dataset": {
                        "name": data.get("name", "unknown"),
                        "type": data.get("name", "unknown"),
                        "split": "test",
                    },
                    "metrics": metrics,
                }
            ],
        }
    ]


def _bullet(key: str, value: Any) -> str:
    if isinstance(value, dict):  # e.g. data files and their sha256
        return f"- **{key}**:\n" + "\n".join(f"  - `{k}`: `{v}`" for k, v in value.items())
    return f"- **{key}**: {value}"


def _training_facts(config: dict[str, Any]) -> str:
    """Validation metrics (the split the checkpoint was chosen on) and the training time, when recorded."""
    training = config["provenance"].get("training") or {}
    lines = []
    if training.get("validation"):
        values = ", ".join(f"{k} {v:.6g}" for k, v in training["validation"].items())
        lines.append(f"On the validation split (used to choose the checkpoint): {values}.")
    if training.get("seconds") is not None:
        on = training.get("device", "an unrecorded device")
        lines.append(f"Training took {training['seconds']:.0f} s on {on}.")
    return "\n" + " ".join(lines) + "\n" if lines else ""


def _fine_tuned_from(config: dict[str, Any]) -> str:
    """Where a fine-tuned model started: the checkpoint and its weights' sha256, what was frozen, the head."""
    source = config["provenance"].get("pretrained")
    if not source:
        return ""
    at = f" at revision `{source['revision']}`" if source.get("revision") else ""
    frozen = ", ".join(f"`{p}`" for p in source.get("freeze") or []) or "nothing"
    head = "a new, freshly initialised head" if source.get("new_head") else "its head"
    return (
        f"\nFine-tuned from `{source.get('name')}`{at} (model.safetensors sha256 "
        f"`{source.get('weights_sha256')}`), keeping {head}; frozen: {frozen}.\n"
    )


def render_card(config: dict[str, Any]) -> str:
    """README.md for an artifact: Hub metadata, usage, metrics, data, how to reproduce, limitations."""
    name = config["name"] or "this model"
    arch = config["architecture"]
    task = config["task"]["name"]
    data = config["provenance"].get("data", {})
    meta = {
        "library_name": "seqzoo",
        "license": "apache-2.0",
        "pipeline_tag": HUB_TASK.get(task, task),
        "tags": ["seqzoo", "pytorch-lightning", arch["name"], task]
        + (["fine-tuned"] if config["provenance"].get("pretrained") else []),
        "datasets": [data["name"]] if data.get("name") else [],
        "model-index": model_index(config) if config["metrics"] else [],
    }
    source = (config["provenance"].get("pretrained") or {}).get("name")
    if isinstance(source, str) and is_repo_id(source):  # the Hub checks base_model names a Hub model
        meta["base_model"] = source
    rows = "\n".join(f"| {metric_label(k)[1]} | {v:.6g} |" for k, v in config["metrics"].items())
    metrics = f"| metric | value |\n| --- | --- |\n{rows}" if rows else "Not evaluated."
    model_mae, naive_mae = config["metrics"].get("test_mae"), config["metrics"].get("test_naive_mae")
    if model_mae is not None and naive_mae:
        gain = 100 * (1 - model_mae / naive_mae)
        metrics += (
            f"\n\nThe naive forecast (the last observed value) is scored on exactly the same windows; "
            f"this model's MAE is {abs(gain):.1f} % {'lower' if gain >= 0 else 'higher'} than it."
        )
    recipe = config["provenance"].get("recipe_path") or "recipe.yaml (in this folder)"
    data_lines = "\n".join(_bullet(k, v) for k, v in data.items()) or "- not recorded"
    data_option = " --data FOLDER" if "files" in data else ""
    evaluate = f"seqzoo evaluate {config['name'] or 'DIR'}{data_option} --json"
    where = " (FOLDER holds the files listed under Training data)" if "files" in data else ""
    return f"""---
{yaml.safe_dump(meta, sort_keys=False).strip()}
---

# {name}

A `{arch["name"]}` model for the seqzoo `{task}` task ({config["num_parameters"]:,} parameters).

## Usage

```python
import seqzoo

model = seqzoo.load("{config["name"] or "path/to/this/folder"}")
{config.get("usage") or "predictions = model.predict(raw_inputs)"}
```

## Test metrics

{metrics}

Reproduce them with `{evaluate}`{where}.
{_training_facts(config)}

## Training data

{data_lines}

## How it was trained

Recipe `{recipe}` (the resolved configuration is `recipe.yaml` in this folder), seed
{config["provenance"].get("seed")}, seqzoo {config["seqzoo_version"]}, git commit
{config["provenance"].get("git_sha") or "unknown"}. Reproduce the training with
`seqzoo fit --config {recipe}`.
{_fine_tuned_from(config)}
## Limitations

{config.get("limitations") or "Trained and evaluated only on the data above; expect worse results elsewhere."}
"""


COMBINE_TEXT = {
    "mean": "the mean of the members' forecasts, each decoded to raw units by its own preprocessing",
    "soft_vote": "soft voting: the mean of the members' class probabilities",
}


def render_ensemble_card(name: str, manifest: dict[str, Any], members: list[dict[str, Any]]) -> str:
    """README.md for an ensemble folder: Hub metadata, usage, how it combines, each member's own metrics.

    `members` are the members' config.json contents, in the manifest's order.
    """
    task = manifest["task"]
    meta = {
        "library_name": "seqzoo",
        "license": "apache-2.0",
        "pipeline_tag": HUB_TASK.get(task, task),
        "tags": ["seqzoo", "ensemble", task],
    }
    rows = []
    for entry, config in zip(manifest["members"], members, strict=True):
        values = ", ".join(f"{k} {v:.4g}" for k, v in config["metrics"].items()) or "not evaluated"
        arch = config["architecture"]["name"]
        rows.append(f"| `{entry['name']}` | `{arch}` | {config['num_parameters']:,} | {values} |")
    table = "\n".join(rows)
    return f"""---
{yaml.safe_dump(meta, sort_keys=False).strip()}
---

# {name}

An ensemble of {len(members)} seqzoo `{task}` models. Its prediction is
{COMBINE_TEXT.get(manifest["combine"], manifest["combine"])}.

## Usage

```python
import seqzoo

ensemble = seqzoo.load("path/to/this/folder")  # or its Hub repo id
predictions = ensemble.predict(raw_inputs)  # the same raw inputs each member takes
```

## Members

Each member is a complete artifact under `members/` (with its own card); `ensemble.json` records the
sha256 of each member's weights, and loading checks them.

| member | architecture | parameters | its own test metrics |
| --- | --- | --- | --- |
{table}
"""


def read_card_metadata(text: str) -> dict[str, Any]:
    """The YAML front matter of a card (used to check it against config.json and the catalogue)."""
    if not text.startswith("---\n"):
        return {}
    return yaml.safe_load(text[4 : text.index("\n---", 4)]) or {}
