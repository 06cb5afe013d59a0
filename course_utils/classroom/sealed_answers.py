"""What the batch grader's sandbox shows in place of the answer key.

:mod:`course_utils.classroom.sandbox` mounts this file over ``course_utils/answers/__init__.py``
and over each module of that package inside the sandbox, so the learner's kernel imports the
course as usual (the checks and the trainers name answers), but
every answer it looks up is a function that raises: the key itself is not readable there.
A table of the key (an upper-case name such as ``written.WRITTEN``, the model answers of the
written derivations, which ``progress()`` lists) is an empty mapping: a workbook's ``progress()``
cell runs, and shows nothing of the key.
"""


class SealedTable(dict):
    """An upper-case table of the answer key, empty inside the sandbox."""


def __getattr__(name: str):
    """Any public name: a stand-in function of that name that raises RuntimeError when called
    (an upper-case name: an empty :class:`SealedTable`)."""
    if name.startswith("__"):
        raise AttributeError(name)
    if name.isupper():
        return SealedTable()

    def sealed(*args, **kwargs):
        raise RuntimeError(f"the course's answer key ({name}) cannot be used while a submission is graded")

    sealed.__name__ = sealed.__qualname__ = name
    return sealed
