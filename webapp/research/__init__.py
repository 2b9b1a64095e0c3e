"""What researchers take out of a study once people have played it: the exports of its trials and
participants (export.py, views.py, `manage.py export_trials` / `export_study`), the report of its
results (report.py, `manage.py study_report`) and the admin's Monitor page (monitor.py).

It reads both the studies (webapp/studies: studies, conditions, participants) and the trials they
played (webapp/play), so it sits above both apps; neither imports it. Its admin (admin.py) adds the
Monitor page and the CSV export action to the study's admin.
"""
