"""vae_course.classroom: the teachers' tools, apart from the course's reference code.

The notebooks never import this sub-package; it hands the notebooks out and grades them
(``vae-course student`` and ``vae-course grade``). Both wings share
:mod:`vae_course.exercises`, the checks a notebook calls and the grader reads back.

* ``student`` student versions: every ``### BEGIN SOLUTION`` region replaced by a stub,
  outputs and metadata cleared, leaks refused; also reads the ``check("NN.k", fn)`` calls of
  a notebook;
* ``grading`` grades a class: one sandboxed kernel per submitted notebook, the checks'
  statuses read back, and what did not report explained in words;
* ``sandbox`` the standard-library-only wrapper script that starts each graded kernel under
  memory and file-size limits and, with Landlock, with writes confined to its folder;
* ``report`` the report's rows, its CSV, the plain-text summary and the HTML page;
* ``cli`` the ``vae-course`` command (``student`` and ``grade``).
"""
