/**
 * What the collector accepts as an upload (SPEC: text files — .txt .md .csv .json and source
 * code — up to 10 MiB). Checked here first so the user gets the answer before uploading 10 MiB
 * for nothing; the server checks again and has the last word.
 */
export const MAX_UPLOAD_BYTES = 10 * 1024 * 1024

export const TEXT_EXTENSIONS = [
  'txt',
  'md',
  'markdown',
  'csv',
  'tsv',
  'json',
  'jsonl',
  'xml',
  'yaml',
  'yml',
  'toml',
  'ini',
  'log',
  'html',
  'css',
  'js',
  'mjs',
  'ts',
  'tsx',
  'jsx',
  'vue',
  'py',
  'rs',
  'go',
  'java',
  'kt',
  'c',
  'h',
  'cpp',
  'hpp',
  'cs',
  'rb',
  'php',
  'swift',
  'sh',
  'ps1',
  'sql',
] as const

export type UploadProblem =
  | { kind: 'too_large'; size: number }
  | { kind: 'unsupported_type'; extension: string }
  | { kind: 'empty' }

function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.')
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : ''
}

/** Why a file cannot go to the collector, or null when it may be uploaded. */
export function uploadProblem(file: Pick<File, 'name' | 'size'>): UploadProblem | null {
  const extension = extensionOf(file.name)
  if (!(TEXT_EXTENSIONS as readonly string[]).includes(extension)) {
    return { kind: 'unsupported_type', extension: extension || file.name }
  }
  if (file.size > MAX_UPLOAD_BYTES) return { kind: 'too_large', size: file.size }
  if (file.size === 0) return { kind: 'empty' }
  return null
}

/** 10485760 → "10 MiB", 2048 → "2 KiB". */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${Math.round((bytes / 1024 / 1024) * 10) / 10} MiB`
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KiB`
  return `${bytes} B`
}

/** A title for an answer saved to the collector: its first line, shortened. */
export function titleFromText(text: string, max = 60): string {
  const line =
    text
      .split('\n')
      .map((l) => l.replace(/^[#>*\-\s`]+/, '').trim())
      .find(Boolean) ?? ''
  return line.length > max ? `${line.slice(0, max - 1)}…` : line
}
