"""The synthetic demo region (`ervaringswijzer demo`)."""
