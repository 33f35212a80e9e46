"""A tiny corpus for index tests: sentences adapted from SQuAD v1.1 paragraphs (CC BY-SA 4.0,
Rajpurkar et al. 2016, from the Wikipedia articles named in each metadata 'title')."""

from groundqa.types import Chunk

TEXTS = [
    ("super_bowl", "Super Bowl 50 was an American football game to determine the champion of the National Football League for the 2015 season.", 2016),
    ("super_bowl", "The Denver Broncos defeated the Carolina Panthers 24 to 10 to earn their third Super Bowl title.", 2016),
    ("super_bowl", "The game was played on February 7, 2016, at Levi's Stadium in Santa Clara, California.", 2016),
    ("warsaw", "Warsaw is the capital and largest city of Poland, standing on the Vistula River in east-central Poland.", 2012),
    ("warsaw", "Its population is officially estimated at 1.740 million residents within a greater metropolitan area of 2.666 million.", 2012),
    ("normans", "The Normans were the people who in the 10th and 11th centuries gave their name to Normandy, a region in France.", 1066),
    ("normans", "They were descended from Norse raiders and pirates from Denmark, Iceland and Norway.", 1066),
    ("nikola_tesla", "Nikola Tesla was a Serbian American inventor, electrical engineer and physicist.", 1943),
    ("nikola_tesla", "He is best known for his contributions to the design of the modern alternating current electricity supply system.", 1943),
    ("amazon", "The Amazon rainforest is a moist broadleaf forest that covers most of the Amazon basin of South America.", 2015),
    ("amazon", "This basin encompasses seven million square kilometres, of which five and a half million are covered by the rainforest.", 2015),
    ("oxygen", "Oxygen is a chemical element with symbol O and atomic number 8, a highly reactive nonmetal and oxidizing agent.", 1774),
    ("oxygen", "Joseph Priestley and Carl Wilhelm Scheele independently discovered oxygen in the 1770s.", 1774),
    ("economic_inequality", "Economic inequality refers to how wealth and income are distributed among individuals in a society.", 2014),
]


def make_chunks() -> list[Chunk]:
    out = []
    for i, (doc, text, year) in enumerate(TEXTS):
        out.append(
            Chunk(
                id=f"{doc}-{i:02d}",
                doc_id=doc,
                text=text,
                start=0,
                end=len(text),
                source=f"{doc}.md",
                metadata={"title": doc, "year": year, "lang": "en" if i % 4 else "de"},
            )
        )
    return out
