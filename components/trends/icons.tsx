// The Trends icon, drawn like components/ui/icons.tsx (24px grid, currentColor, decorative).
import type { SVGProps } from "react";

export const TrendsIcon = ({ size = 18, ...props }: SVGProps<SVGSVGElement> & { size?: number }) => (
  <svg
    width={size}
    height={size}
    viewBox="0 0 24 24"
    fill="none"
    stroke="currentColor"
    strokeWidth={1.8}
    strokeLinecap="round"
    strokeLinejoin="round"
    aria-hidden="true"
    focusable="false"
    {...props}
  >
    <path d="M4 4v16h16" />
    <path d="m7 15 4-4 3 3 5-6" />
  </svg>
);
