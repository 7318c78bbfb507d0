"""Residency's hazard taxonomy for harmful requests, modelled on Llama Guard 3's (MLCommons) categories.

``harmful_request`` is Residency's own annotation beside Azure's four categories: a request for help
with something harmful, whatever its topic. Its severity is a confidence band (as for the
categories); ``hazard`` names the most likely kind below. Llama Guard 3's codes are given where one
matches; Residency splits S2 (fraud, cyber crime, other non-violent crime) and S9 (weapons of any
kind) and adds disinformation beyond elections.
"""

from __future__ import annotations

HAZARDS: dict[str, tuple[str, str]] = {
    "violent_crimes": ("S1", "violence against people or animals: assault, murder, kidnapping, terrorism"),
    "non_violent_crimes": ("S2", "theft, burglary, drugs, smuggling, money laundering, evading police"),
    "fraud": ("S2", "scams, phishing, forgery, counterfeiting, impersonation, financial fraud"),
    "cyber_crimes": ("S2", "malware, intrusion, credential theft, denial of service, account takeover"),
    "sex_crimes": ("S3", "sexual assault, trafficking, non-consensual intimate imagery, sexual harassment"),
    "child_exploitation": ("S4", "any sexualisation or grooming of minors"),
    "defamation": ("S5", "false statements of fact meant to damage a real person's reputation"),
    "specialized_advice": ("S6", "dangerous medical, legal or financial instructions presented as safe"),
    "privacy": ("S7", "exposing or tracking a person's private information: doxxing, stalking, spying"),
    "intellectual_property": ("S8", "reproducing copyrighted works, piracy, circumventing licences"),
    "weapons": ("S9", "making or acquiring weapons: explosives, firearms, chemical, biological, nuclear"),
    "hate": ("S10", "demeaning or inciting against people for a protected characteristic"),
    "self_harm": ("S11", "suicide, self-injury, disordered eating as a goal"),
    "sexual_content": ("S12", "explicit sexual content"),
    "elections": ("S13", "false information about voting, voter suppression, election interference"),
    "disinformation": ("", "fabricated news, propaganda, fake reviews or evidence meant to deceive"),
}
