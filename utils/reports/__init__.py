"""Reports over result folders: metrics table, statistics, the Excel workbook and heatmaps."""
