"""The checks of every exercise, one module per chapter.

Each module describes its exercises (test cases, including cases worked out by hand, the
catalogue of classic mistakes with their diagnoses, tiered hints) in a list ``EXERCISES``;
the answers they compare with come from :mod:`course_utils.answers`. The course's catalogue,
:mod:`course_utils.catalogue`, imports these modules in course order
(:data:`course_utils.catalogue.CHAPTERS`).
"""
