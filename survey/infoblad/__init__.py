"""The infoblad section: the results table, the chart and the approved quotes of a period."""
