// Passes the requested path to server components (layouts cannot see it), so
// a signed-out visitor is sent to /login and then back to the page they asked for.
// Authentication itself is checked in the dashboard layout, against the database.
import { NextResponse, type NextRequest } from "next/server";

export function proxy(request: NextRequest) {
  const requestHeaders = new Headers(request.headers);
  requestHeaders.set("x-airlock-path", request.nextUrl.pathname + request.nextUrl.search);
  return NextResponse.next({ request: { headers: requestHeaders } });
}

export const config = {
  matcher: ["/runs/:path*", "/approvals/:path*", "/audit/:path*", "/policies/:path*", "/projects/:path*", "/redteam/:path*", "/settings/:path*"],
};
