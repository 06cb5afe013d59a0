"""What the batch grader's sandbox shows in place of the answer key.

:mod:`course_utils.classroom.sandbox` mounts this file over ``course_utils/answers/__init__.py``
and over each module of that package inside the sandbox, so the learner's kernel imports the
course as usual (the checks and the trainers name answers), but
every answer it looks up is a function that raises: the key itself is not readable there.
"""


def __getattr__(name: str):
    """Any public name: a stand-in function of that name that raises RuntimeError when called."""
    if name.startswith("__"):
        raise AttributeError(name)

    def sealed(*args, **kwargs):
        raise RuntimeError(f"the course's answer key ({name}) cannot be used while a submission is graded")

    sealed.__name__ = sealed.__qualname__ = name
    return sealed
