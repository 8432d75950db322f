"""Lecture mode and the course website, built from the committed notebooks.

slide_metadata  assigns RISE / reveal.js slide types and inserts the speaker notes (speaker_notes.json)
build_slides    writes offline reveal.js decks (build/slides/), reveal.js and MathJax copied next to them
build_site      writes the static course website (build/site/) with Sphinx and myst-nb
vendor          fetches reveal.js and MathJax from the npm registry at build time (cached in build/vendor/)
"""
