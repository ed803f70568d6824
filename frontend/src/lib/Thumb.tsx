/** A thumbs-up/down icon as inline SVG: it renders the same with or without an emoji font. */
export default function Thumb({ down = false }: { down?: boolean }) {
  return (
    <svg className="thumb" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false"
      style={down ? { transform: "rotate(180deg)" } : undefined}>
      <path
        d="M7 10v11H3V10h4zm2 11h8.6a2 2 0 0 0 2-1.6l1.3-7A2 2 0 0 0 19 10h-5.3l.8-4.1a1.6 1.6 0 0 0-2.9-1.2L9 10v11z"
        fill="currentColor"
      />
    </svg>
  );
}
