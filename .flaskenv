# Read by the flask command (python-dotenv). The sample app runs against the embedded emulator
# unless AZURE_SIGNALR_CONNECTION_STRING is set (environment or .env); never put a key here.
AZURE_SIGNALR_EMULATOR=1
