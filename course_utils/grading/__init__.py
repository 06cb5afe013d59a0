"""The grading engine, below every exercise: how an exercise is described (``spec``), how a
function is run safely (``guard``), compared (``comparison``, ``engine``) and reported
(``result``), where progress is kept (``progress_store``), and how a whole notebook is graded
(``protocol``, ``runner``).

Nothing here imports a check, an answer or a trainer; the catalogue of exercises
(:mod:`course_utils.catalogue`) and the learner's ``check``/``hint``/``progress``
(:mod:`course_utils.workbook`) sit above. Importing this package loads nothing (torch is
loaded by ``engine``, not by ``protocol``).
"""
