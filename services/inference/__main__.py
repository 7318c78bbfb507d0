"""python -m services.inference"""

from services.inference.app import create_app
from services.inference.settings import InferenceSettings
from services.runtime.main import run_service

if __name__ == "__main__":
    run_service("inference", InferenceSettings, create_app)
