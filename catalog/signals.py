"""Signals for the apps above catalog, which may not be imported from here.

`profiles_imported` is sent inside the import's transaction with the new ImportBatch, so a
receiver that fails (billing's inventory posting) rolls the whole import back.
"""

from django.dispatch import Signal

profiles_imported = Signal()  # sender: ImportBatch class; batch: the ImportBatch
# sender: UsageRecord class; bundle_ids: the bundles whose data used was recounted. Sent
# inside the batch's transaction.
usage_recorded = Signal()
