#version 330 core
// Vertex shader for visualize's pyrender scenes (replaces pyrender's mesh.vert).
// pyrender substitutes the *_LOC names with attribute locations before compiling.

layout(location = 0) in vec3 position;
#ifdef NORMAL_LOC
layout(location = NORMAL_LOC) in vec3 normal;
#endif
#ifdef TEXCOORD_0_LOC
layout(location = TEXCOORD_0_LOC) in vec2 texcoord_0;
#endif
layout(location = INST_M_LOC) in mat4 inst_m;   // per-instance model matrix

uniform mat4 M;   // node pose
uniform mat4 V;   // world -> camera
uniform mat4 P;   // projection

out vec3 frag_position;   // world space
out vec3 frag_normal;     // world space, not normalised
#ifdef TEXCOORD_0_LOC
out vec2 uv_0;
#endif

void main()
{
    mat4 W = M * inst_m;
    vec4 world = W * vec4(position, 1.0);
    gl_Position = P * V * world;
    frag_position = world.xyz;
#ifdef NORMAL_LOC
    // Normals transform with the inverse transpose of W. Every matrix this package draws has
    // orthogonal columns (a rotation times a per-axis scale), for which the inverse transpose is
    // W with each column divided by its squared length: far cheaper than inverse() per vertex.
    // (Drop shadows shear, but floor surfaces ignore their normals.)
    mat3 A = mat3(W);
    frag_normal = A * (normal / vec3(dot(A[0], A[0]), dot(A[1], A[1]), dot(A[2], A[2])));
#else
    frag_normal = vec3(0.0, 1.0, 0.0);
#endif
#ifdef TEXCOORD_0_LOC
    uv_0 = texcoord_0;
#endif
}
