import { Link } from "react-router";
import { PageHeader } from "../ui/Page.tsx";

export function NotFound() {
  return (
    <>
      <PageHeader title="Page not found" />
      <p>
        There is nothing here. <Link to="/">Back to the overview</Link>.
      </p>
    </>
  );
}
