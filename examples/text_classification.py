"""Text classification with TF-IDF and an L1 penalty: the balance equations read as words.

``X`` (n, m) is the TF-IDF design (a scipy.sparse CSR matrix, one row per sentence, one column
per word, the intercept appended as the last column), ``Y`` (n, k) the one-hot topics. The L1
dual ``l(theta) - lambda ||theta_R||_1`` (``lambda = 1 / C``; every row but the intercept's
penalised) is the maximum-entropy problem over the model's probabilities ``P`` (n, k)

    maximise    H(P) = -sum_ji P_ji log P_ji
    subject to  |X_R^T (P - Y)| <= lambda   entry by entry (a box per word and topic)
                X_0^T (P - Y) = 0           (the intercept: each topic's count)
                P 1 = 1,  P >= 0.

Read as words: ``(X^T P)_wc`` is the TF-IDF mass of word ``w`` that the model *expects* in
topic ``c``, ``(X^T Y)_wc`` the mass *observed* in topic ``c``'s sentences. The fit matches every
topic's count exactly and every word's mass up to ``lambda``; by complementary slackness a
word's coefficient for a topic is nonzero only where its box is tight, ``|expected - observed|
= lambda`` (``observed = expected + lambda`` for a positive coefficient: the model has to
under-predict the word there by exactly what the penalty allows).

The corpus, ``dualmaxent/data/headlines.csv``, ships with the package: 400 short sentences
about sport, cooking, weather and computing, made from word lists (seeded; some words, such as
``record``, ``hot`` and ``server``, belong to several topics).

Run: ``python examples/text_classification.py``.
"""

import csv
from importlib import resources

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline

from dualmaxent import Dataset, MaxEntClassifier
from dualmaxent.cli import format_certificate
from dualmaxent.verify import balance_sides

C = 0.5  # lambda = 1 / C = 2: about a tenth of the vocabulary survives in each topic
TOP = 6  # words printed per topic

with resources.files("dualmaxent").joinpath("data", "headlines.csv").open(encoding="utf-8") as f:
    corpus = list(csv.DictReader(f))
texts = [row["text"] for row in corpus]
topics = np.array([row["topic"] for row in corpus])

pipeline = Pipeline([("tfidf", TfidfVectorizer()),
                     ("maxent", MaxEntClassifier(C=C, l1_ratio=1.0))]).fit(texts, topics)
clf, cert = pipeline["maxent"], pipeline["maxent"].certificate_

# The design the classifier saw, as a data set: the same sparse X, topics and penalty, so the
# certificate's figures and the balance equations below are about the fitted problem.
X = pipeline["tfidf"].transform(texts)
words = pipeline["tfidf"].get_feature_names_out()
data = Dataset.from_arrays(X, topics, feature_names=words, name="headlines")
# the coefficient table (one row per word and topic) is left out: the balance table replaces it
print(format_certificate(data, cert).split("\n  coefficients")[0])
print()

lam = cert.penalty.l1_lam
expected, observed = balance_sides(data, cert.theta)  # (m + 1, k): words, then the intercept
slack = expected - observed
theta = np.asarray(cert.theta)
print(f"{len(texts)} sentences, {len(words)} words (a sparse X with {X.nnz} nonzeros), "
      f"lambda = 1/C = {lam:g}; TF-IDF mass of a word in a topic: observed = X^T Y, expected "
      "= X^T P under the model")
print("topic counts (intercept row, an equality): observed "
      + ", ".join(f"{c} {o:.0f}" for c, o in zip(clf.classes_, observed[-1]))
      + f"; largest |expected - observed| {np.abs(slack[-1]).max():.1e}")
for c, topic in enumerate(clf.classes_):
    on = np.flatnonzero(theta[:-1, c])
    off = np.flatnonzero(theta[:-1, c] == 0)
    print()
    print(f"topic {topic}: {len(on)} words with a nonzero coefficient, each on its box: "
          f"max | |expected - observed| - lambda | = "
          f"{np.abs(np.abs(slack[on, c]) - lam).max(initial=0.0):.1e}; the other "
          f"{len(off)} words inside it: max |expected - observed| = "
          f"{np.abs(slack[off, c]).max(initial=0.0) / lam:.3f} lambda")
    print(f"  {'word':<14} {'coef':>8} {'observed':>9} {'expected':>9} {'exp - obs':>10}")
    for w in on[np.argsort(-np.abs(theta[on, c]))][:TOP]:
        print(f"  {words[w]:<14} {theta[w, c]:>8.3f} {observed[w, c]:>9.4f} "
              f"{expected[w, c]:>9.4f} {slack[w, c]:>+10.6f}")

print()
print(f"verdict: {cert.verdict}")
print(f"Interpretation: among all probability tables that reproduce each topic's count and "
      f"every word's TF-IDF mass in every topic to within lambda = {lam:g}, the fitted model is "
      f"the one of largest entropy ({cert.entropy:.2f} nats over {len(texts)} sentences); the "
      f"words it uses are exactly those whose mass the model falls short of (or exceeds) by the "
      f"full lambda, and training accuracy is {np.mean(pipeline.predict(texts) == topics):.3f}.")
