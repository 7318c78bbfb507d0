"""python -m services.retrieval"""

from services.retrieval.app import create_app
from services.retrieval.settings import RetrievalSettings
from services.runtime.main import run_service

if __name__ == "__main__":
    run_service("retrieval", RetrievalSettings, create_app)
