"""Task LightningModules: loss, metrics, optimizers; architectures come from the registry."""

from seqzoo.errors import UnknownNameError
from seqzoo.tasks.base import SeqzooTask
from seqzoo.tasks.classification import ClassificationTask
from seqzoo.tasks.forecasting import ForecastingTask
from seqzoo.tasks.seq2seq import Seq2SeqTask

TASKS: dict[str, type[SeqzooTask]] = {
    cls.task_name: cls for cls in (ForecastingTask, ClassificationTask, Seq2SeqTask)
}


def task_class(name: str) -> type[SeqzooTask]:
    if name not in TASKS:
        raise UnknownNameError("task", name, list(TASKS))
    return TASKS[name]


__all__ = ["TASKS", "ClassificationTask", "ForecastingTask", "Seq2SeqTask", "SeqzooTask", "task_class"]
