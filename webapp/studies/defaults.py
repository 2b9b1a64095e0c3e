"""Default participant-facing texts per game, used when a study leaves them empty.

The rules summary shown next to the instructions (payoffs, lengths) is generated from the study's
game parameters by the templates, so these texts avoid numbers that parameters can change.
"""

CONSENT_TEXT = ("You are invited to take part in a research study on decision-making. You"
                " will play a short computer game against an automated opponent; your "
                "choices are recorded anonymously together with their timing. Taking part"
                " is voluntary and you may stop at any time by closing this page. Your "
                "bonus depends on the points you earn. By ticking the box below you agree"
                " to take part.")

INSTRUCTIONS = {
    "ipd": ("Each round you and the other player each choose, at the same time, to "
            "Cooperate (C) or Defect (D). Neither of you sees the other's choice before "
            "choosing. Your points for the round depend on both choices, as in the table "
            "below. After each round you see what the other player chose."),
    "bandit": ("On each trial choose one of two boxes. A box may or may not contain a "
               "point; you only find out for the box you open. Over the whole game each "
               "box holds the same number of points, but not on the same trials. Try to "
               "collect as many points as you can."),
    "gonogo": ("On each trial a shape appears. If it is a GREEN circle (go), press the "
               "space bar (or tap the button) as fast as you can. If it is a RED square "
               "(no-go), do nothing. You earn a point for each correct trial: a quick "
               "press on green, no press on red."),
    "trust": ("You are the investor. Each round you receive points and choose how many of"
              " them to send to the other player (the trustee). What you send is "
              "multiplied; the trustee then decides what share of the multiplied amount "
              "to return to you. You keep what you did not send plus what is returned."),
}

COMPREHENSION_QUESTIONS = {
    "ipd": [
        {"question": "Do you see the other player's choice before you choose?",
         "choices": ["Yes", "No, we choose at the same time"], "answer": 1},
        {"question": "If you both cooperate, what happens?",
         "choices": ["You both get the reward for mutual cooperation",
                     "Only the other player earns points"], "answer": 0},
    ],
    "bandit": [
        {"question": "After opening a box, what do you learn?",
         "choices": ["Whether both boxes had a point", "Only whether the box you opened had a point"],
         "answer": 1},
    ],
    "gonogo": [
        {"question": "What should you do when a RED square appears?",
         "choices": ["Press as fast as possible", "Do nothing"], "answer": 1},
        {"question": "What should you do when a GREEN circle appears?",
         "choices": ["Press as fast as possible", "Do nothing"], "answer": 0},
    ],
    "trust": [
        {"question": "What happens to the points you send to the trustee?",
         "choices": ["They are multiplied before the trustee decides what to return",
                     "They are lost"], "answer": 0},
    ],
}


def check_questions(questions) -> None:
    """Raise ValueError naming the first problem in a comprehension-question list."""
    if not isinstance(questions, list):
        raise ValueError("must be a list of questions")
    for number, question in enumerate(questions, start=1):
        if not isinstance(question, dict) or set(question) != {"question", "choices", "answer"}:
            raise ValueError(f"question {number} must have exactly the keys question, choices, answer")
        if not isinstance(question["question"], str) or not question["question"].strip():
            raise ValueError(f"question {number}: question must be a non-empty text")
        choices = question["choices"]
        if not isinstance(choices, list) or len(choices) < 2 or not all(isinstance(c, str) for c in choices):
            raise ValueError(f"question {number}: choices must be a list of at least two texts")
        answer = question["answer"]
        if isinstance(answer, bool) or not isinstance(answer, int) or not 0 <= answer < len(choices):
            raise ValueError(f"question {number}: answer must be the index (0..{len(choices) - 1}) "
                             "of the right choice")
