"""vae_course.classroom: the teachers' tools, apart from the course's reference code.

The notebooks never import this sub-package; it hands the notebooks out and grades them
(``vae-course student`` and ``vae-course grade``). Both wings share
:mod:`vae_course.exercises`, the checks a notebook calls and the grader reads back.

* ``student`` student versions: every ``### BEGIN SOLUTION`` region replaced by a stub,
  outputs and metadata cleared, leaks refused; also reads the ``check("NN.k", fn)`` calls of
  a notebook;
* ``grading`` grades a class: one sandboxed kernel per submitted notebook; after each
  exercise's check cell, the grader draws fresh inputs, has the kernel call the learner's
  function on them, and judges the outputs in its own process;
* ``kernel`` one graded kernel over Unix sockets, with every wait bounded (per-cell limits,
  interrupts, a watchdog for lost replies), and the stand-in for a learner's function;
* ``wire`` the data-only channel between them (JSON, tensors as raw bytes, never pickle);
* ``sandbox`` the standard-library-only wrapper that starts each graded kernel under memory
  and file-size limits, Landlock (reads and writes confined, no TCP, no signals out), seccomp
  (no network socket) and no capabilities, and kills whatever the kernel leaves behind;
* ``report`` the report's rows, its CSV, the summary, the HTML pages (one per student) and the
  Canvas and Moodle gradebooks;
* ``cli`` the ``vae-course`` command (``student`` and ``grade``).
"""
