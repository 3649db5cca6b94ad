// The few statistics the benchmark reports.

export function median(values: number[]): number {
  return percentile(values, 50)
}

/** Linear interpolation between closest ranks; NaN for no values. */
export function percentile(values: number[], p: number): number {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b)
  if (finite.length === 0) return Number.NaN
  const rank = (p / 100) * (finite.length - 1)
  const low = Math.floor(rank)
  const high = Math.ceil(rank)
  return finite[low] + (finite[high] - finite[low]) * (rank - low)
}
