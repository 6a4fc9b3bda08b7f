"""Shared Streamlit widgets of the workbench: the scope sidebar, evidence panels, tables.

Pages import from here; nothing below ``ui`` (analytics, reports, warehouse) imports Streamlit.
"""
