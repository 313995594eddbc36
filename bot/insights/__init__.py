"""The support leads' figures, presented: labels from config.yml, tables for the terminal and
CSV, the step funnel of a flow in its own order, and the funnel as a picture.

The figures themselves are SQL aggregates in ``bot.store.insights``.
"""
