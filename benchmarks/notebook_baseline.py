"""The classic notebook's steps as a plain pandas + scikit-learn script, for comparison.

    python benchmarks/notebook_baseline.py customers.csv out/

Read the file, scale income and spending, elbow over K=1..10 (n_init=10, every row), fit
K=5, scatter every customer, write the segmented CSV.
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import duckdb
import matplotlib.pyplot as plt
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("source", type=Path, help="customers, CSV or Parquet, with the classic columns")
parser.add_argument("out", type=Path, help="the folder the CSV and the charts are written to")
args = parser.parse_args()
source, out = args.source, args.out
out.mkdir(parents=True, exist_ok=True)
df = duckdb.read_parquet(str(source)).df() if source.suffix == ".parquet" else pd.read_csv(source)
X = StandardScaler().fit_transform(df[["Annual Income (k$)", "Spending Score (1-100)"]])

inertia = [KMeans(n_clusters=k, n_init=10, random_state=42).fit(X).inertia_ for k in range(1, 11)]
plt.plot(range(1, 11), inertia, "o-")
plt.savefig(out / "elbow.png")
plt.close()

df["Cluster"] = KMeans(n_clusters=5, n_init=10, random_state=42).fit_predict(X)
plt.scatter(df["Annual Income (k$)"], df["Spending Score (1-100)"], c=df["Cluster"])
plt.savefig(out / "clusters.png")
plt.close()

df.to_csv(out / "segmented_mall_customers.csv", index=False)
