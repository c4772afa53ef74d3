namespace Orchestrator.NodeAgent.Runtime.Containerd;

/// <summary>
/// Docker's image name normalisation, which Kubernetes manifests assume and <c>ctr</c> does not
/// do: "busybox:1" is "docker.io/library/busybox:1", "nginx" is "docker.io/library/nginx:latest";
/// a first component with a '.' or ':' or equal to "localhost" is a registry host.
/// </summary>
internal static class ImageReference
{
    public static string Normalize(string image)
    {
        var name = image.Trim();
        var slash = name.IndexOf('/');
        var first = slash < 0 ? "" : name[..slash];
        if (slash < 0 || !(first.Contains('.') || first.Contains(':') || first == "localhost"))
        {
            name = "docker.io/" + (slash < 0 ? "library/" + name : name);
        }
        if (name.Contains('@'))
        {
            return name;
        }
        var lastSlash = name.LastIndexOf('/');
        return name.IndexOf(':', lastSlash + 1) < 0 ? name + ":latest" : name;
    }
}
