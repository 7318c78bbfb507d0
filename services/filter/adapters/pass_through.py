"""A screen with no detectors: every text passes and nothing is annotated.

The walking skeleton's stand-in; the layered classifiers replace it (issue: filter). It claims
no severities it did not measure: its results are empty, not "safe".
"""

from __future__ import annotations

from contracts.prompt_submissions import PromptSubmitted
from services.filter.ports import ScreenVerdict


class PassThroughScreen:
    async def screen_prompt(self, submission: PromptSubmitted) -> ScreenVerdict:
        return ScreenVerdict()

    async def screen_completion(self, resource_id: str, deployment: str, text: str) -> ScreenVerdict:
        return ScreenVerdict()
