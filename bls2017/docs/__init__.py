"""The generated text of README.md and docs/*.md, made from committed results.

    python -m bls2017.docs            rewrite every generated block
    python -m bls2017.docs --check    exit 1 naming each stale block

A page marks each generated block, a table or a paragraph that quotes
measured figures, between two comments that Markdown does not show:

    <!-- begin generated: NAME -->
    text that blocks.BLOCKS[NAME](root) returns
    <!-- end generated: NAME -->

So a figure on a page is always its results file's, and a test holds the
committed pages to what the generator makes of the committed results. A
block's generator also checks the reading that the text around it gives
(e.g. "the matrix product is faster at both sizes") and raises DocsError
when the results no longer bear it out: then the prose needs rewriting.

    results/*.json, *.csv, models.json ---blocks.BLOCKS[NAME]---> text
    README.md, docs/*.md  ---pages.update: each marked block <- its text

`tables` renders the Markdown tables, `blocks` the blocks, `pages` finds
and rewrites them.
"""
