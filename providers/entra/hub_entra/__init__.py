"""Microsoft Entra ID provider type for Identity Hub."""
